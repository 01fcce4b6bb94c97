"""The domain: units and staff, campaigns, inspections and hazards — event-sourced, framework-free."""
