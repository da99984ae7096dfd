"""aftersales decision engine: load → compile → evaluate → explain."""
