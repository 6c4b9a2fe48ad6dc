Kadomon xupan kumana bukumon zuna bun .
Kadomon ludon madowan kadomon raman man bun mowaxan kumana wamon .
Kumana zun mapano kumana rubuhan zurukun kaluxun mowaxan kumana guzuxan .
Kadomon xakon kadomon kan wakun luxuwan .
Kadomon doguzun man kadomon kozun madowan gulon .
Kadomon kozun kumana gudon madowan luxuwan .
Kumana kan buruhan kadomon rukan buruhan gulon mowaxan kumana haruran .
Kadomon rubuhan buruhan kumana lomon kadokon paxun .
Kumana gudon man kumana kun wakun wan .
Kumana ludon kadomon madozun wagukon wan mowaxan kumana haruran .
Kadomon gudon kadokon kumana xun xaxun mowaxan kumana kagun .
Kumana xupan kumana kuman wan .
Kadomon xupan kumana pan zuna gulon mowaxan kumana maraxan .
Kumana gudon buzun kadomon raman zuna waxuzun .
Kadomon ludon wakun kadomon wazun zurukun bun mowaxan kumana haruran .
Kadomon xun man kadomon xakon runa .
