# Unit tests of the upstream reference.
