"""Task and key persistence: protocols plus the SQLAlchemy implementation (SQLite, PostgreSQL)."""
