"""The catalog inspection queries, one ``.sql`` file each (read by ``migtui.catalog.inspect``)."""
