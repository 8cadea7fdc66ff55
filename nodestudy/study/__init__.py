"""The reproduction of Ott et al. (ICLR 2021) on top of :mod:`nodestudy.core`."""
