"""The document formats: one reader per format, each giving the text the passages are cut from, with its pages where the format has them."""
