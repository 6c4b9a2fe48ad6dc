Kadomon rubuhan zuna kumana kupan zubun .
Kadomon xakon madowan kadomon madozun wakun dopan .
Kadomon kuxarun kadomon raman zuna bun mowaxan kumana rukon .
Kumana mapan zuna kadomon xupan man xaxun .
Kumana xakon kadomon lomon man zubun .
Kadomon rubuhan kadokon kumana rukan mapano gulon .
Kumana kan zuran kadomon kun zuna gukuxan .
Kumana kan wagukon kadomon xupan madowan dopan mowaxan kumana maraxan .
Kadomon ludon zurukun kadomon kozukan paxun mowaxan kumana guzuxan .
Kadomon rubuhan kumana kun xaxun mowaxan kumana rukon .
Kadomon gudon han kadomon kozun buruhan gukuxan .
Kumana xun wakun kadomon kun buruhan gukuxan .
Kadomon zun mapano kumana zun buruhan kaluxun mowaxan kumana kagun .
Kumana mapan kadomon kun mapano wan .
Kumana zun wagukon kadomon mapan gukuxan mowaxan kumana wamon .
Kumana zun buruhan kumana kun zuran waxuzun .
Kadomon kuxarun man kadomon kuxarun buruhan run .
Kadomon xakon madowan kadomon kan zuran kaluxun .
Kumana ludon buruhan kumana pan mapano xaxun .
Kadomon mapan buzun kumana kozukan budon .
Kadomon gudon buzun kumana wazun xaxun mowaxan kumana haruran .
Kadomon kan kumana kuxarun kadokon xaxun .
Kumana xakon kadomon kun zuran dopan .
Kumana xun kadomon gudon man bun .
Kumana xakon kadokon kadomon xuna waxuzun mowaxan kumana wamon .
Kadomon rubuhan zuran kumana kan wakun pano mowaxan kumana haruran .
Kadomon kan kumana gudon madowan zubun .
Kadomon xun zuna kumana kuman waxuzun mowaxan kumana kagun .
Kadomon kan buruhan kumana kuxarun zurukun xaxun mowaxan kumana guzuxan .
Kadomon ludon kumana rukan budon .
Kumana gudon mapano kadomon mapan madowan run .
Kumana rubuhan wakun kumana xakon zuna budon mowaxan kumana rukon .
Kadomon xun kadomon kun pano .
Kumana kuxarun mapano kadomon xun buruhan run mowaxan kumana maraxan .
Kumana xakon zuna kadomon kuxarun han bun mowaxan kumana guzuxan .
Kumana xun han kumana xuna budon .
Kadomon ludon buruhan kadomon xuna run .
Kumana kozun zurukun kumana lomon buruhan run .
Kumana kan kumana kozun run mowaxan kumana maraxan .
Kadomon kozun zuna kumana ludon wan mowaxan kumana maraxan .
Kumana xun kumana kan zuran budon .
Kadomon kan buzun kumana doguzun zurukun xunau .
Kadomon rubuhan madowan kumana bukumon pano .
Kadomon xun buruhan kumana kuxarun gukuxan mowaxan kumana maraxan .
Kumana xakon man kadomon gudon run mowaxan kumana maraxan .
Kadomon gudon kadomon raman kadokon zubun mowaxan kumana rukon .
Kadomon doguzun zurukun kadomon raman zuran gulon mowaxan kumana rukon .
Kadomon gudon wakun kumana zun han dopan mowaxan kumana rukon .
Kadomon xun kadokon kumana zuzuxan madowan dopan .
Kumana zun kumana rubuhan wakun budon .
Kadomon ludon kadomon wazun wagukon paxun .
Kumana doguzun zuran kadomon kozun budon .
Kadomon xakon kadokon kadomon xun xaxun mowaxan kumana kagun .
Kadomon kan kadokon kumana rukan wagukon gukuxan .
Kadomon xun kadokon kadomon raman buzun xaxun .
Kumana xun kumana xun run .
Kumana rubuhan zuran kumana xuna wan .
Kumana xun kumana madozun zubun .
Kadomon kan man kumana bukumon kadokon luxuwan mowaxan kumana rukon .
Kumana kozun zuran kumana doguzun zuran kaluxun .
