from migtui.cli.main import entry

entry()
