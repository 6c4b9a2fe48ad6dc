Kadomon mapan kumana kan buruhan run mowaxan kumana haruran .
Kumana xakon kadomon ludon buruhan runa mowaxan kumana maraxan .
Kadomon rubuhan kadokon kumana wazun kadokon dopan mowaxan kumana haruran .
Kumana gudon kumana xakon wan mowaxan kumana guzuxan .
Kumana kuxarun kadomon xupan madowan budon .
Kadomon mapan kadomon bukumon zuran wan .
Kumana ludon kadomon xuna zuna kaluxun .
Kumana rubuhan madowan kumana kupan xunau .
Kumana mapan zuran kumana xun wakun pano mowaxan kumana wamon .
Kadomon rubuhan han kadomon ludon pano .
Kumana zun kumana zuzuxan wan .
Kumana kan zurukun kumana kozun dopan .
Kadomon mapan madowan kumana wazun zuran dopan mowaxan kumana maraxan .
Kadomon zun kadokon kadomon kozun bun mowaxan kumana guzuxan .
Kumana kuxarun madowan kumana rukan zurukun gukuxan .
Kadomon kozun zurukun kadomon pan paxun mowaxan kumana rukon .
Kadomon kan mapano kadomon kan zurukun xaxun mowaxan kumana rukon .
Kadomon xakon kadomon kozun kaluxun .
Kadomon mapan kadomon zun madowan dopan mowaxan kumana wamon .
Kadomon mapan zuran kadomon bukumon buzun wan mowaxan kumana rukon .
Kadomon rubuhan han kumana kozukan zuran zubun .
Kadomon gudon buruhan kumana kupan zubun mowaxan kumana guzuxan .
Kadomon xakon kumana kogun mapano kaluxun .
Kumana kan buruhan kumana mapan zurukun paxun .
Kadomon xun madowan kumana kupan wagukon gulon .
Kadomon xakon mapano kumana rukan kaluxun .
Kadomon xakon wakun kumana bukumon zuran xunau .
Kumana kan madowan kumana pan buruhan kaluxun mowaxan kumana maraxan .
Kadomon xun wakun kumana pan man waxuzun .
Kumana kuxarun madowan kumana wazun luxuwan .
Kadomon kozun kadomon xupan kadokon kaluxun mowaxan kumana guzuxan .
Kadomon kozun kadomon kan xaxun .
Kadomon zun zuran kumana kozukan han dopan mowaxan kumana maraxan .
Kumana ludon zuran kadomon xupan mapano xunau .
Kadomon ludon kumana mapan wakun waxuzun .
Kadomon xakon zurukun kadomon mapan dopan mowaxan kumana rukon .
Kadomon zun kumana kogun wakun paxun mowaxan kumana guzuxan .
Kadomon rubuhan man kadomon bukumon zurukun pano .
Kadomon rubuhan kadomon zun paxun .
Kumana kuxarun madowan kumana gudon zubun .
Kumana kozun wakun kadomon kozun wan .
Kadomon xun kumana kuxarun kadokon kaluxun mowaxan kumana rukon .
Kadomon ludon wakun kumana lomon buzun runa mowaxan kumana rukon .
Kadomon xakon man kumana kun runa mowaxan kumana guzuxan .
Kumana xun madowan kadomon kun zurukun xunau mowaxan kumana guzuxan .
Kadomon xakon buzun kumana kupan waxuzun mowaxan kumana wamon .
Kadomon doguzun zurukun kadomon doguzun run mowaxan kumana rukon .
Kadomon doguzun kumana lomon zuna budon mowaxan kumana rukon .
Kadomon kan zuna kadomon doguzun zubun mowaxan kumana guzuxan .
Kadomon ludon madowan kadomon lomon bun .
Kumana ludon zuna kadomon kozun dopan .
Kumana xupan kadomon ludon madowan waxuzun mowaxan kumana maraxan .
Kumana doguzun kadomon kozun buruhan zubun .
Kumana xun kumana zuzuxan zurukun bun mowaxan kumana maraxan .
Kadomon rubuhan kadokon kadomon raman zuna runa .
Kumana doguzun kumana rukan kadokon xunau mowaxan kumana haruran .
Kadomon kozun zuna kadomon doguzun zuran gukuxan .
Kadomon mapan kadomon kozukan xaxun mowaxan kumana haruran .
Kumana rubuhan buzun kumana madozun wagukon kaluxun .
Kumana mapan kumana raman bun .
