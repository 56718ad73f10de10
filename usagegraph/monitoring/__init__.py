"""What the server reports about itself: Prometheus metrics, structured logs and the gauge collectors."""
