Kumana xupan kadomon kuman buruhan run .
Kadomon gudon zurukun kadomon xun budon .
Kadomon kan wakun kumana xun madowan xunau mowaxan kumana rukon .
Kumana xun madowan kumana madozun zuna gulon .
Kadomon xupan kadomon lomon buzun xunau .
Kadomon mapan man kumana kupan budon mowaxan kumana haruran .
Kumana rubuhan kadomon zun budon .
Kadomon xakon buruhan kumana kozukan buzun waxuzun mowaxan kumana haruran .
Kumana doguzun buzun kumana xakon wakun paxun .
Kadomon rubuhan buzun kumana zun zurukun wan mowaxan kumana rukon .
Kumana mapan kadomon xun pano mowaxan kumana guzuxan .
Kumana doguzun zuran kadomon zun mapano gulon .
Kadomon kozun han kumana ludon run .
Kumana kozun kadomon pan xaxun mowaxan kumana wamon .
Kadomon xun han kumana raman zuran xaxun .
Kumana doguzun wagukon kumana kun kaluxun .
Kadomon kozun buzun kadomon zuzuxan han pano .
Kadomon rubuhan kumana rubuhan bun mowaxan kumana kagun .
Kadomon xakon kadomon zuzuxan zuran budon .
Kumana kuxarun kadomon pan zubun mowaxan kumana wamon .
Kumana gudon wakun kadomon kozun wan .
Kumana xupan kumana raman wakun luxuwan .
Kadomon gudon kadomon zuzuxan pano mowaxan kumana guzuxan .
Kadomon xakon han kadomon raman wagukon paxun .
Kadomon rubuhan kadomon doguzun kaluxun .
Kadomon kuxarun buruhan kadomon zuzuxan wakun kaluxun .
Kumana kozun kumana doguzun luxuwan .
Kadomon xakon buruhan kadomon rubuhan kaluxun mowaxan kumana guzuxan .
Kadomon kan kumana kuman zuna pano .
Kumana kozun kumana kogun run .
Kadomon xakon madowan kadomon bukumon wakun kaluxun mowaxan kumana wamon .
Kumana mapan kumana xakon gukuxan mowaxan kumana wamon .
Kumana kozun kumana bukumon zuran runa .
Kadomon xakon zuna kadomon wazun xunau .
Kumana xun zurukun kumana zuzuxan han dopan .
Kumana rubuhan kumana kuxarun run mowaxan kumana rukon .
Kadomon xupan kadomon gudon zubun .
Kadomon kan han kumana gudon zurukun dopan .
Kumana xupan kumana zun pano .
Kadomon xakon kumana pan madowan bun mowaxan kumana guzuxan .
Kumana gudon kumana zun madowan pano .
Kadomon xupan wakun kadomon kuxarun zuran budon .
Kumana xakon madowan kadomon zuzuxan bun .
Kumana kuxarun kumana kuxarun han wan mowaxan kumana guzuxan .
Kumana kan kumana pan pano .
Kumana mapan zurukun kumana kun xunau .
Kadomon ludon zuna kumana bukumon zurukun xunau mowaxan kumana guzuxan .
Kumana kan buruhan kumana lomon paxun .
Kumana xupan kumana wazun bun .
Kadomon kuxarun wagukon kumana madozun han runa .
Kadomon mapan kumana zuzuxan mapano luxuwan .
Kumana rubuhan buruhan kadomon kan mapano wan .
Kadomon xun kumana kozun zurukun luxuwan .
Kadomon kan buzun kumana kupan zurukun xunau .
Kadomon kan kadomon pan xunau mowaxan kumana kagun .
Kadomon mapan kadokon kumana wazun xaxun mowaxan kumana guzuxan .
Kumana kuxarun kumana madozun wakun run mowaxan kumana maraxan .
Kadomon kuxarun han kumana xakon luxuwan .
Kumana kuxarun han kadomon lomon gulon .
Kumana ludon buzun kadomon kun budon .
