"""Output formats shared by commands: text, JSON lines, GitHub annotations, SARIF, JUnit."""
