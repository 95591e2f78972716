# Unit tests of the phc reference.
