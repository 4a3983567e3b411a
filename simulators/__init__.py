"""Stand-ins for what Conveyor talks to outside (Daraja, Stripe, routers), speaking the real
protocols."""
