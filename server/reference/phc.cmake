# Sources of the phc reference, added to smeard_reference (owned by that module).
