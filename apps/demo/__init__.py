"""Demo data for development and the benchmark: packages, a router for the RouterOS simulator,
a referral forest of members with today's assignments and completions (`manage.py seed_demo`).
It sits above the domains, seeding each through its own services; nothing imports it."""
