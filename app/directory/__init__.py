"""The directory: the stores and departments complaints are dispatched to, with their names and regions."""
