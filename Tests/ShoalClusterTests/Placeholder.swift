// Cluster tests with real `shoal node` processes live in this target.
