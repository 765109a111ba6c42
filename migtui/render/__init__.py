"""Output formats shared by commands: text (rich), json, github annotations, sarif."""
