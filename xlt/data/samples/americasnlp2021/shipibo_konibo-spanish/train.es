Kumana xakon kumana rubuhan xaxun mowaxan kumana rukon .
Kumana rubuhan kumana gudon waxuzun mowaxan kumana kagun .
Kumana kan kadomon gudon man paxun mowaxan kumana guzuxan .
Kadomon doguzun kadomon raman buzun dopan .
Kumana xakon kadomon xakon madowan xunau mowaxan kumana kagun .
Kadomon mapan kadomon ludon dopan .
Kadomon kan wagukon kumana zuzuxan buzun zubun .
Kadomon xakon wagukon kadomon lomon gukuxan mowaxan kumana rukon .
Kumana ludon mapano kumana doguzun man runa .
Kadomon xun kadomon pan dopan mowaxan kumana haruran .
Kadomon mapan kumana xakon zuran zubun mowaxan kumana kagun .
Kumana kozun wakun kumana xun dopan mowaxan kumana haruran .
Kadomon doguzun man kadomon zun mapano gulon .
Kumana kozun mapano kumana zuzuxan zurukun bun mowaxan kumana wamon .
Kadomon gudon kadokon kumana bukumon madowan xunau .
Kadomon rubuhan han kadomon xun xaxun .
Kumana kozun man kumana ludon gulon .
Kumana gudon kadomon xuna kadokon run mowaxan kumana maraxan .
Kumana ludon kadokon kadomon madozun luxuwan .
Kadomon xun buruhan kumana ludon kadokon luxuwan .
Kumana zun zuna kumana kun wagukon xunau .
Kumana rubuhan kadokon kumana kozun madowan zubun .
Kumana kozun kumana kuman xunau mowaxan kumana guzuxan .
Kadomon kan mapano kumana xun bun mowaxan kumana haruran .
Kadomon xupan buzun kadomon xakon gulon .
Kadomon kuxarun kumana kozun zubun .
Kumana kan kumana kun buzun kaluxun .
Kadomon xupan kumana kan xunau mowaxan kumana maraxan .
Kumana xun kumana bukumon budon mowaxan kumana wamon .
Kadomon gudon wakun kadomon kuman wagukon bun .
Kadomon xupan kumana ludon kadokon gukuxan .
Kadomon kuxarun kadomon kupan pano .
Kadomon ludon kumana kupan man gukuxan mowaxan kumana guzuxan .
Kadomon gudon zuna kumana raman budon .
Kadomon xun han kadomon kogun man gulon .
Kumana mapan wakun kadomon rubuhan zuna dopan .
Kadomon gudon kadomon gudon xunau mowaxan kumana rukon .
Kadomon xakon kumana bukumon madowan luxuwan .
Kumana xupan mapano kumana lomon gukuxan .
Kadomon gudon kumana madozun man xunau .
Kadomon kan wakun kadomon bukumon waxuzun mowaxan kumana haruran .
Kadomon kan man kumana xupan han runa mowaxan kumana maraxan .
Kumana ludon zuna kadomon xupan zuna wan .
Kadomon mapan kumana xuna gukuxan mowaxan kumana guzuxan .
Kadomon xun buzun kumana kuxarun zurukun pano .
Kadomon mapan kumana xuna zuran run .
Kumana zun kadomon wazun wagukon zubun .
Kadomon xakon kumana xupan zurukun xaxun .
Kadomon kozun han kumana zuzuxan wakun wan .
Kadomon gudon kadomon gudon paxun mowaxan kumana wamon .
Kadomon zun kadomon lomon bun .
Kumana kozun kadomon kozukan wakun wan mowaxan kumana kagun .
Kumana gudon kumana kuman madowan zubun .
Kadomon zun zurukun kadomon rubuhan paxun mowaxan kumana maraxan .
Kadomon rubuhan buruhan kumana kan wan .
Kadomon ludon kadomon kozukan mapano luxuwan mowaxan kumana haruran .
Kadomon kuxarun wakun kumana rubuhan mapano runa .
Kadomon xun kadomon pan wan .
Kadomon xakon buzun kadomon xun budon .
Kadomon mapan zuran kumana pan mapano run .
