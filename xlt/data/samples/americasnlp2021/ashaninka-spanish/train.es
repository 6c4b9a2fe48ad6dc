Kadomon ludon kumana zuzuxan zuran waxuzun mowaxan kumana wamon .
Kadomon xakon kumana xupan run .
Kadomon doguzun zurukun kumana zun luxuwan .
Kadomon zun mapano kumana raman man xunau mowaxan kumana rukon .
Kumana mapan kadomon kogun wagukon runa mowaxan kumana kagun .
Kadomon xun kumana lomon man zubun .
Kadomon xun buruhan kumana doguzun buzun waxuzun .
Kumana xupan buruhan kumana madozun buzun zubun mowaxan kumana maraxan .
Kadomon xun zuna kadomon kuxarun runa mowaxan kumana maraxan .
Kumana xupan wakun kumana xupan mapano wan .
Kadomon xun madowan kadomon kupan madowan bun .
Kumana ludon kadomon raman wan .
Kumana doguzun kadomon madozun wakun dopan .
Kumana rubuhan kumana zuzuxan wakun gulon .
Kadomon kozun kumana kupan wakun paxun .
Kumana doguzun mapano kadomon madozun zuran pano .
Kadomon zun zurukun kadomon madozun kaluxun .
Kumana kan kadomon xun buruhan gukuxan mowaxan kumana maraxan .
Kumana kan madowan kumana gudon mapano runa .
Kadomon gudon zuna kumana zun zubun mowaxan kumana maraxan .
Kumana zun kadomon kozukan kadokon gukuxan .
Kadomon zun zurukun kadomon lomon xunau .
Kadomon xupan zuran kumana ludon kaluxun .
Kumana xakon kadomon kozun dopan mowaxan kumana maraxan .
Kadomon xakon kadomon kozukan madowan luxuwan mowaxan kumana kagun .
Kumana xakon zuna kadomon raman madowan runa mowaxan kumana guzuxan .
Kumana xun buzun kumana zuzuxan madowan wan mowaxan kumana haruran .
Kumana kan man kadomon bukumon zuran wan .
Kadomon zun kumana raman mapano runa mowaxan kumana guzuxan .
Kumana gudon kumana wazun buzun paxun mowaxan kumana guzuxan .
Kumana ludon kadomon wazun zurukun xunau mowaxan kumana maraxan .
Kumana xun zuna kumana zun man gulon mowaxan kumana haruran .
Kadomon xupan kumana kun xaxun .
Kadomon kuxarun buruhan kumana zun gukuxan .
Kumana mapan kadomon rubuhan madowan pano mowaxan kumana maraxan .
Kadomon xupan wagukon kumana madozun buzun zubun .
Kumana zun kumana doguzun waxuzun .
Kadomon xun han kumana xun wakun paxun mowaxan kumana rukon .
Kumana mapan kumana zun wakun wan .
Kumana rubuhan kumana xupan gulon .
Kumana xakon buruhan kadomon kuman zurukun zubun .
Kumana kozun kadomon gudon zuna run mowaxan kumana haruran .
Kumana kuxarun kadokon kadomon zuzuxan dopan mowaxan kumana guzuxan .
Kadomon kan kadomon xupan wan .
Kumana xun wagukon kumana madozun zurukun bun mowaxan kumana haruran .
Kumana gudon madowan kumana xakon man xunau .
Kadomon zun buzun kumana kuman han pano mowaxan kumana maraxan .
Kadomon rubuhan kadomon pan zuna wan .
Kadomon kan kumana kuxarun wakun zubun mowaxan kumana maraxan .
Kumana rubuhan mapano kadomon xuna zurukun pano .
Kadomon xupan kadomon ludon buruhan kaluxun mowaxan kumana wamon .
Kumana xun wagukon kumana raman buruhan zubun mowaxan kumana wamon .
Kumana xun buruhan kadomon bukumon han runa .
Kumana kozun buruhan kadomon wazun madowan run .
Kumana xupan kumana kozukan mapano paxun .
Kadomon xupan kumana raman han kaluxun mowaxan kumana guzuxan .
Kumana mapan wagukon kumana lomon waxuzun .
Kadomon ludon kadomon kozun zurukun kaluxun .
Kadomon kozun wakun kadomon lomon zurukun kaluxun mowaxan kumana haruran .
Kumana xun kumana kupan wakun budon .
