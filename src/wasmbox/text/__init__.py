"""The text format: lexer, module and script parser, printer."""
