"""One client per outside service: `dataservice` (the points), `export_server` (the images).
Both raise `transport.ServiceError`."""
