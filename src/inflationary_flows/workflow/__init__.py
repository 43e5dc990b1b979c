"""What the Snakefile imports at parse time: config validation and target lists, code
tracking, the paper's published numbers. Imports only the core, never torch-heavy analyses."""
