Kumana ludon buruhan kumana pan xaxun .
Kumana zun kadomon kan madowan dopan .
Kadomon mapan han kadomon lomon buzun runa mowaxan kumana kagun .
Kumana kan han kadomon bukumon pano .
Kadomon xakon kumana xupan buruhan pano mowaxan kumana guzuxan .
Kadomon xun man kadomon gudon buruhan wan .
Kadomon xun zuna kadomon kun zuran zubun .
Kumana gudon kadokon kadomon kuxarun pano .
Kadomon kuxarun mapano kadomon zun zurukun zubun .
Kumana xakon buzun kadomon gudon xaxun .
Kumana kuxarun kumana rukan zurukun waxuzun .
Kumana mapan kumana xupan buruhan waxuzun .
Kadomon mapan zuna kadomon kozukan madowan waxuzun .
Kadomon xakon man kadomon doguzun paxun mowaxan kumana maraxan .
Kadomon gudon kumana bukumon runa .
Kadomon zun wagukon kumana madozun buzun gukuxan .
Kumana kan zurukun kadomon kogun kaluxun mowaxan kumana haruran .
Kumana ludon kadomon bukumon zuna zubun .
Kadomon ludon kadomon kun paxun mowaxan kumana wamon .
Kumana ludon kumana kozun wakun kaluxun mowaxan kumana maraxan .
Kadomon xun buzun kumana zun wagukon dopan .
Kumana gudon zuran kadomon bukumon run .
Kadomon xun kadomon xuna kadokon gukuxan .
Kumana kan han kumana wazun zuna waxuzun .
Kumana gudon man kumana xun han bun .
Kadomon mapan wakun kumana kogun kaluxun mowaxan kumana wamon .
Kumana gudon kadomon kogun mapano zubun mowaxan kumana haruran .
Kadomon xakon han kadomon kozun zuna gukuxan .
Kadomon kan madowan kadomon kun waxuzun mowaxan kumana kagun .
Kadomon kozun madowan kadomon mapan budon mowaxan kumana haruran .
Kadomon rubuhan wakun kumana bukumon madowan bun .
Kadomon kozun zuna kadomon lomon xunau .
Kadomon kozun kadomon xupan xunau mowaxan kumana wamon .
Kadomon kozun mapano kumana xun wagukon xaxun .
Kumana rubuhan zurukun kumana kuxarun zubun mowaxan kumana rukon .
Kadomon kozun wakun kumana rubuhan gukuxan .
Kumana doguzun kadomon rubuhan man pano .
Kumana rubuhan mapano kadomon zuzuxan buzun luxuwan .
Kumana rubuhan zurukun kadomon xun man runa .
Kumana rubuhan zurukun kadomon kuman mapano paxun .
Kumana rubuhan kumana xuna zubun .
Kadomon kozun kumana ludon run .
Kadomon kan madowan kumana xun dopan mowaxan kumana kagun .
Kumana gudon mapano kumana xun luxuwan .
Kumana kan madowan kumana kun zuran kaluxun .
Kadomon rubuhan buruhan kadomon ludon buruhan waxuzun mowaxan kumana kagun .
Kumana kan mapano kadomon xakon zuna xaxun .
Kadomon doguzun kadomon kogun zurukun xunau mowaxan kumana guzuxan .
Kadomon rubuhan kadomon lomon buruhan wan .
Kumana doguzun kadomon madozun zuran run .
Kumana kan zurukun kumana zun zubun mowaxan kumana maraxan .
Kadomon xun zuna kadomon kun zurukun run .
Kumana kozun han kadomon raman zuna budon mowaxan kumana kagun .
Kadomon zun kadokon kumana ludon mapano xaxun mowaxan kumana rukon .
Kumana mapan mapano kadomon ludon man pano mowaxan kumana kagun .
Kumana kuxarun zuran kadomon bukumon madowan budon .
Kumana kozun kadomon bukumon budon .
Kumana xupan buruhan kumana kogun zurukun wan mowaxan kumana haruran .
Kumana gudon kadomon rubuhan wan .
Kumana zun zuran kadomon zuzuxan zuna paxun .
