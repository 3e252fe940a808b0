"""Running the studio in production: the nginx site for several studio processes, and its helpers."""
