"""Alert plumbing: message text (render) and one send through Apprise (send)."""
