"""The command line (`nodestudy train / evaluate / check / train-study`), running notebooks,
and the IPython extension."""
