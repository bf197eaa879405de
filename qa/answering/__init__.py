"""The read path: the engine that scores a question against a built index, fuses its vector and lexical scores, and answers, hedges or refuses. It never imports the build path."""
