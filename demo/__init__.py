"""Demo data for a first look at Ledgerline (`make run`): `manage.py load_demo` loads sellers,
products, tax rates, numbering and 20 accounts with orders (demo/data.py);
`manage.py ensure_demo_staff` creates the demo superuser. Tooling, not part of the product."""
