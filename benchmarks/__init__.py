"""sofrito beside its Python peers, on the workloads of DESIGN §7 (see ``__main__``)."""
