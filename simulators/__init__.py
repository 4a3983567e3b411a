"""Stand-ins for what Conveyor talks to outside (Daraja, routers), speaking the real protocols."""
