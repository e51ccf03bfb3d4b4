"""WASI preview1 (wasi_snapshot_preview1) host functions."""
