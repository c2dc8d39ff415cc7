"""The site benchmark: ``sofrito run`` beside static-site generators (see ``__main__``)."""
