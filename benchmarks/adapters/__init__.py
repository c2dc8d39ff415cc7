"""One module per library, each with the same small shape (``base.Adapter``)."""
