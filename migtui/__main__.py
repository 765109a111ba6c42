from migtui.cli import entry

entry()
