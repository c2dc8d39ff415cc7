"""sofrito beside its Python peers, on the workloads of DESIGN §7. Run: bash scripts/bench.sh"""
