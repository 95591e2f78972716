# Unit tests of the refclock reference.
