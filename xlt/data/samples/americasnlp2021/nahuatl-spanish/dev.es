Kadomon ludon kadokon kadomon rubuhan dopan .
Kumana rubuhan han kumana kuman budon .
Kumana rubuhan madowan kadomon doguzun buruhan runa mowaxan kumana maraxan .
Kumana kuxarun kadokon kumana rubuhan kadokon budon mowaxan kumana haruran .
Kadomon kuxarun kadomon kozun dopan .
Kadomon rubuhan zuran kumana kan zuna kaluxun .
Kadomon kuxarun man kadomon madozun zurukun dopan .
Kadomon kozun kadomon kan runa .
Kumana xakon zurukun kadomon zuzuxan zuran wan mowaxan kumana wamon .
Kumana xakon madowan kadomon xakon zubun .
Kumana kan mapano kumana kogun buzun luxuwan .
Kumana kozun kadomon rubuhan han xunau .
Kumana kuxarun kumana pan zuran gukuxan .
Kumana mapan buzun kadomon zun wagukon dopan .
Kumana ludon kadomon madozun man zubun mowaxan kumana haruran .
Kadomon kan kadomon kan luxuwan .
