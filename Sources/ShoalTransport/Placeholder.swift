// ShoalTransport
