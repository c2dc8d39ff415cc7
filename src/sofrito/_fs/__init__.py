"""The parts behind ``sofrito.fs``: glob patterns (``patterns``) and the scan (``scan``).

``sofrito.fs`` is the public face (``file``, ``glob``, ``output``, ``scan``);
these modules hold one idea each, so the command line (``sofrito.cli``) and
``watch`` can use the scan without the flow-facing names, and the pattern
rules are written once for both the scan's walk and ``sf.fs.glob``.
"""
