Kumana doguzun kadomon kupan buruhan pano .
Kumana kuxarun zurukun kadomon raman man run .
Kumana kan kumana doguzun xunau mowaxan kumana guzuxan .
Kadomon doguzun kadomon zuzuxan runa mowaxan kumana kagun .
Kadomon xupan kumana doguzun kadokon paxun .
Kumana gudon kumana bukumon dopan mowaxan kumana maraxan .
Kadomon rubuhan man kadomon mapan mapano gukuxan .
Kumana zun wakun kadomon kan runa .
Kumana mapan buruhan kadomon doguzun wan mowaxan kumana maraxan .
Kumana zun kumana kupan madowan waxuzun .
Kadomon kan kadomon doguzun luxuwan mowaxan kumana haruran .
Kumana zun mapano kadomon kan xaxun .
Kumana ludon kadomon ludon xunau .
Kumana zun kumana kogun han gukuxan .
Kumana mapan mapano kumana kan budon .
Kumana rubuhan wagukon kumana kuxarun wagukon pano mowaxan kumana guzuxan .
