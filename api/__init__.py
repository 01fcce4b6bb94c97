"""Django project: settings, URLs, DRF views, auth, permissions, web pages."""
