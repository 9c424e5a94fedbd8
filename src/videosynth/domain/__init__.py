"""Pure domain rules: no I/O, no frameworks. Everything here is exhaustively unit-tested."""
