Kadomon mapan kadokon kumana kogun madowan gulon mowaxan kumana rukon .
Kadomon kuxarun kumana pan kaluxun .
Kumana kan kadomon madozun gulon .
Kumana xun zurukun kadomon wazun wagukon gulon .
Kadomon gudon madowan kadomon doguzun zurukun run mowaxan kumana guzuxan .
Kadomon gudon kumana wazun buruhan budon .
Kadomon xupan mapano kadomon pan man run mowaxan kumana rukon .
Kumana gudon kadomon doguzun buruhan waxuzun .
Kadomon zun mapano kumana zun zurukun xaxun mowaxan kumana guzuxan .
Kadomon gudon kadomon madozun wakun gulon .
Kumana mapan wagukon kadomon xuna madowan budon mowaxan kumana maraxan .
Kadomon kozun kadokon kadomon rubuhan wakun xunau mowaxan kumana maraxan .
Kadomon rubuhan kumana mapan kadokon xunau mowaxan kumana kagun .
Kumana kan buruhan kadomon kuxarun madowan budon .
Kumana rubuhan zurukun kadomon kuxarun zurukun luxuwan .
Kadomon kozun zurukun kumana kuxarun zuran luxuwan .
