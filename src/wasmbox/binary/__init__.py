"""The binary format: LEB128, the decoder and the encoder."""
