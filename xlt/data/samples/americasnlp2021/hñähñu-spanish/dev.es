Kumana ludon kumana xun buruhan budon mowaxan kumana guzuxan .
Kadomon zun kadomon kan wakun luxuwan mowaxan kumana wamon .
Kumana kan kadomon doguzun gukuxan mowaxan kumana maraxan .
Kadomon mapan han kadomon kan buzun pano .
Kumana kuxarun wakun kumana ludon bun mowaxan kumana guzuxan .
Kadomon kan wagukon kumana wazun zuna waxuzun .
Kumana zun kumana bukumon pano mowaxan kumana wamon .
Kumana ludon kumana rukan wagukon pano .
Kadomon kozun kumana bukumon zurukun waxuzun .
Kadomon gudon kumana xakon wan .
Kumana ludon kumana ludon zuran pano .
Kumana ludon man kumana kuman kadokon paxun mowaxan kumana haruran .
Kadomon xakon buzun kumana kozukan zuran budon mowaxan kumana kagun .
Kumana xakon madowan kadomon xupan buruhan pano .
Kumana kuxarun kumana rukan wagukon waxuzun mowaxan kumana haruran .
Kadomon gudon kadokon kadomon kupan waxuzun mowaxan kumana guzuxan .
