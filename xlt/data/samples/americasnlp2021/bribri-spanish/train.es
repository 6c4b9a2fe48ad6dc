Kumana rubuhan man kadomon kogun wagukon bun .
Kadomon kozun han kumana pan mapano dopan .
Kumana zun zurukun kumana xun zuran paxun .
Kumana kozun kadomon mapan luxuwan mowaxan kumana guzuxan .
Kadomon gudon zurukun kumana raman dopan .
Kumana kozun han kadomon mapan buruhan xunau .
Kumana kan zurukun kadomon madozun pano .
Kumana rubuhan kumana bukumon han gulon .
Kadomon xakon buzun kadomon kun budon .
Kadomon xun zuna kadomon rubuhan han run .
Kadomon doguzun mapano kumana ludon pano .
Kadomon kuxarun kadomon madozun han zubun mowaxan kumana maraxan .
Kumana kozun kadomon ludon wakun bun .
Kadomon mapan madowan kadomon xupan wakun budon .
Kadomon rubuhan zuran kumana xupan madowan luxuwan .
Kadomon xun kumana ludon zurukun runa .
Kadomon xupan zuna kumana gudon zuna pano mowaxan kumana wamon .
Kadomon zun zuran kumana xuna zuran wan .
Kumana zun buzun kumana raman dopan .
Kadomon doguzun buzun kumana gudon dopan .
Kumana mapan kadokon kumana xakon han budon .
Kumana kan zuna kadomon madozun wagukon pano .
Kumana xun buruhan kadomon mapan wan .
Kadomon gudon kadomon xupan zuran luxuwan .
Kumana gudon han kumana kuman madowan pano .
Kadomon gudon zuna kadomon kuxarun man budon .
Kadomon xakon kadomon ludon xunau mowaxan kumana haruran .
Kadomon mapan buruhan kumana xakon buzun gulon .
Kumana xakon kumana kogun kaluxun .
Kumana xun buzun kadomon kogun dopan .
Kumana ludon zuna kadomon kuman gukuxan mowaxan kumana maraxan .
Kumana kan kadokon kadomon mapan xunau .
Kadomon zun zuran kadomon rubuhan han run mowaxan kumana guzuxan .
Kadomon kan wakun kadomon kan zubun .
Kumana xupan kumana xupan zurukun kaluxun .
Kumana zun kadomon mapan mapano xunau mowaxan kumana haruran .
Kumana doguzun kadomon kupan buruhan gukuxan .
Kadomon gudon wagukon kumana kozun wakun xaxun .
Kadomon zun kadomon doguzun buzun zubun .
Kumana mapan man kumana rukan gulon .
Kumana kuxarun kadokon kadomon kuman wagukon zubun .
Kumana xakon kadomon rukan kadokon run .
Kumana kan kumana gudon wan .
Kadomon doguzun han kumana bukumon luxuwan mowaxan kumana wamon .
Kumana xakon kumana gudon madowan run .
Kumana xakon buruhan kadomon xakon run .
Kumana xun kumana rukan han budon .
Kumana rubuhan kadokon kadomon zuzuxan zuran runa .
Kumana kozun buzun kadomon kozukan han gukuxan .
Kumana xupan kadomon kun zubun mowaxan kumana haruran .
Kadomon kuxarun kumana kozun kaluxun mowaxan kumana maraxan .
Kadomon rubuhan mapano kadomon bukumon runa .
Kumana xupan wakun kadomon kupan zurukun run mowaxan kumana haruran .
Kadomon xupan zuran kumana kogun runa mowaxan kumana wamon .
Kadomon xupan han kadomon zuzuxan kaluxun mowaxan kumana rukon .
Kadomon kozun buzun kumana xupan zubun .
Kadomon doguzun madowan kumana madozun wakun bun .
Kumana xakon wakun kumana kozun zurukun kaluxun .
Kadomon kuxarun kumana kozukan buruhan kaluxun mowaxan kumana rukon .
Kadomon xupan kadomon zun zurukun xunau mowaxan kumana kagun .
