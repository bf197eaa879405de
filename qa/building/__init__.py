"""The build path: reading the documents, cutting passages and answer units, embedding them, calibrating the refusal bar, keeping an index fresh, and the Ray build."""
