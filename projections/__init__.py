"""Read models (Django models), one projector per read model, and their queries."""
