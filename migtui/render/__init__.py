"""Output formats shared by commands: text (rich), JSON, GitHub annotations, SARIF, JUnit."""
