"""A cluster's life on the operator's machine: create (converge), plan, status, verify, delete; its state
directory and PKI. The CLI calls one function of here per verb."""
