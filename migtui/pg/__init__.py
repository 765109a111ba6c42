"""The one I/O layer: everything that talks to PostgreSQL or starts PostgreSQL lives under migtui.pg."""
